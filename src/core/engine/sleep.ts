/** Waits `ms`, or less when the signal fires (it resolves either way: callers check the signal). */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((res) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      res();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
