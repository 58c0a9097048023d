import { cpus, platform, release, totalmem } from 'node:os';

/** The machine a benchmark ran on, recorded with its figures. */
export interface Machine {
  platform: string;
  release: string;
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  node: string;
}

export function machineInfo(): Machine {
  const cpu = cpus();
  return {
    platform: platform(),
    release: release(),
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? '',
    memoryBytes: totalmem(),
    node: process.version,
  };
}
