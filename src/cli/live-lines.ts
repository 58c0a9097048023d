import { writeStd } from './output.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A block of spinner lines at the bottom of a terminal, one per running statement, redrawn in
 * place (cursor up, clear to the end of the screen). Anything else printed goes above it:
 * `clear()` before, the next tick draws the block again.
 */
export class LiveLines {
  private drawn = 0;
  private frame = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly lines: () => string[]) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.draw(), 100);
    this.timer.unref();
  }

  /** Removes the block from the screen (before other output). */
  clear(): void {
    if (this.drawn) writeStd('stderr', `\x1b[${this.drawn}F\x1b[0J`);
    this.drawn = 0;
  }

  draw(): void {
    this.clear();
    const width = Math.max(20, (process.stderr.columns || 100) - 1);
    const f = FRAMES[this.frame++ % FRAMES.length];
    const text = this.lines().map((l) => `${f} ${l}`.slice(0, width));
    if (text.length) writeStd('stderr', `${text.join('\n')}\n`);
    this.drawn = text.length;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }
}
