/*
 * Multi-host URLs as libpq and postgres.js take them: `postgres://u:p@a:5432,b:5432/db?target_session_attrs=read-write`.
 * The WHATWG URL parser refuses a host list, so whatever reads such a URL parses it with its first host.
 */

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*@)?([^/?#]*)(.*)$/is;

/** The URL with its first host only (for parsing), and the host list when there are several. */
export function splitHosts(url: string): { single: string; hosts?: string } {
  const m = AUTHORITY.exec(url);
  if (!m || !m[3].includes(',')) return { single: url };
  return { single: `${m[1]}${m[2] ?? ''}${m[3].split(',')[0]}${m[4]}`, hosts: m[3] };
}

/** The same URL on another database, host list kept. */
export function withDatabase(url: string, database: string): string {
  const { hosts } = splitHosts(url);
  if (!hosts) {
    const u = new URL(url);
    u.pathname = `/${database}`;
    return u.toString();
  }
  const m = AUTHORITY.exec(url)!;
  const rest = m[4].replace(/^(\/[^?#]*)?/, `/${encodeURIComponent(database)}`);
  return `${m[1]}${m[2] ?? ''}${m[3]}${rest}`;
}

/**
 * libpq's `target_session_attrs=read-write` means "not a hot standby, and writes allowed by
 * default". postgres.js checks only default_transaction_read_only, which the tool's sessions set
 * to off in their startup packet, so it would take a standby: ask it for `primary` instead
 * (in_hot_standby off), the same thing for the tool's sessions.
 */
export function primaryForReadWrite(url: string): string {
  return url.replace(/([?&]target_session_attrs=)read-write(?=[&#]|$)/, '$1primary');
}
