// Masking of passwords in text, without the driver: the CLI's output (and so --help) needs it
// before any connection is made.

/** Replaces the password of any postgres URL in text with ****. */
export function maskUrl(text: string): string {
  // the password runs to the last '@' of the URL (a password may contain '@'); libpq also takes ?password=
  return text
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)(\S*)(@)/gi, (_m, a, _p, c) => `${a}****${c}`)
    .replace(/([?&]password=)[^&\s]*/gi, '$1****');
}
