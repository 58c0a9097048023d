/** The data scale of generate(): pure, so that the flags can check it without loading the generator. */

export const MAX_SCALE = 100;
/** What a data scale must be (the flags and generate() check the same). */
export const SCALE_RANGE = `a number above 0 and at most ${MAX_SCALE} (1 = about 9M rows)`;
export const isScale = (scale: number) => Number.isFinite(scale) && scale > 0 && scale <= MAX_SCALE;
