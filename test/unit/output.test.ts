import { EventEmitter } from 'node:events';
import { guardStdio, isStdClosed, isStdioError, writeStd } from '../../src/cli/output.js';

class FakeStream extends EventEmitter {
  written: string[] = [];
  throws = false;
  write(s: string): boolean {
    if (this.throws) throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    this.written.push(s);
    return true;
  }
}

describe('stdout / stderr whose reader went away', () => {
  it('an EPIPE on stdout closes stdout only, once, and is told apart from a database socket EPIPE', () => {
    const stdout = new FakeStream();
    const stderr = new FakeStream();
    const closed: string[] = [];
    guardStdio((name) => closed.push(name), { stdout, stderr } as never);
    writeStd('stdout', 'a\n');
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' });
    stdout.emit('error', epipe);
    stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    writeStd('stdout', 'b\n');
    writeStd('stderr', 'still here\n');
    expect(closed).toEqual(['stdout']);
    expect(stdout.written).toEqual(['a\n']);
    expect(stderr.written).toEqual(['still here\n']);
    expect(isStdClosed('stdout')).toBe(true);
    expect(isStdClosed('stderr')).toBe(false);
    expect(isStdioError(epipe)).toBe(true);
    expect(isStdioError(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBe(false); // e.g. the database socket's
  });

  it('a write that throws closes its stream too; nothing is written after', () => {
    const stdout = new FakeStream();
    const stderr = new FakeStream();
    const closed: string[] = [];
    guardStdio((name) => closed.push(name), { stdout, stderr } as never);
    stderr.throws = true;
    expect(() => writeStd('stderr', 'x')).not.toThrow();
    stderr.throws = false;
    writeStd('stderr', 'y');
    expect(stderr.written).toEqual([]);
    expect(closed).toEqual(['stderr']);
  });
});
