import { existsSync, readFileSync } from 'node:fs';
import { splitHosts } from './hosts.js';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { Duplex } from 'node:stream';
import { join } from 'node:path';
import { checkServerIdentity, connect as tlsConnect, TLSSocket, type ConnectionOptions } from 'node:tls';
import { BoosterzError, ExitCode } from '../errors.js';

/**
 * libpq's sslmode values (https://www.postgresql.org/docs/current/libpq-ssl.html), done on our
 * side because postgres.js 3.4.9 gets two of them wrong: `allow` asks for TLS first (and fails on
 * a server without it), and `prefer` never falls back to a plain connection when the server
 * refuses the encrypted one (a `hostnossl` pg_hba.conf line).
 */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** libpq's TLS parameters of a target: URL query parameters or PGSSL* variables. */
export interface SslParams {
  sslmode?: string;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
}

const PARAM_NAMES = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const;

type Transport = 'plain' | 'tls';

/** What a mode does: the transports to try in order (a refusal moves on to the next) and how TLS verifies. */
export interface SslPlan {
  mode: SslMode;
  order: Transport[];
  /** TLS is all there is: a server without it is an error, not a plain connection. */
  tlsRequired: boolean;
  tls: ConnectionOptions;
}

export function parseSslMode(value: string | undefined): SslMode {
  // no sslmode keeps the tool's historical default (no TLS) rather than libpq's `prefer`
  if (value === undefined || value === '') return 'disable';
  if ((SSL_MODES as readonly string[]).includes(value)) return value as SslMode;
  throw new BoosterzError(`unknown sslmode "${value}" (${SSL_MODES.join(', ')})`, ExitCode.usage);
}

function readPem(kind: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new BoosterzError(`cannot read the ${kind} ${path}: ${(err as Error).message}`, ExitCode.usage, [], {}, { cause: err });
  }
}

/** sslrootcert as libpq finds it: given, else ~/.postgresql/root.crt when that file exists. */
function rootCert(p: SslParams, home: string): string | undefined {
  if (p.sslrootcert) return p.sslrootcert;
  const dflt = join(home, '.postgresql', 'root.crt');
  return existsSync(dflt) ? dflt : undefined;
}

/** The trust and identity options of a verifying mode; `require` with a root certificate verifies the chain like libpq. */
function tlsOptions(mode: SslMode, p: SslParams, home: string): ConnectionOptions {
  const root = rootCert(p, home);
  const o: ConnectionOptions = {};
  if (p.sslcert) o.cert = readPem('client certificate (sslcert)', p.sslcert);
  if (p.sslkey) o.key = readPem('client key (sslkey)', p.sslkey);
  const verifyChain = mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && root !== undefined);
  if (!verifyChain) return { ...o, rejectUnauthorized: false };
  if (root && root !== 'system') o.ca = readPem('root certificate (sslrootcert)', root);
  o.rejectUnauthorized = true;
  o.checkServerIdentity = mode === 'verify-full' ? checkServerIdentity : () => undefined;
  return o;
}

/** Turns libpq parameters into a plan; bad values are usage errors. */
export function sslPlan(p: SslParams, home = homedir()): SslPlan {
  const explicit = p.sslmode !== undefined && p.sslmode !== '';
  let mode = parseSslMode(p.sslmode);
  if (p.sslrootcert === 'system') {
    // libpq: the system's CAs only make sense with the host checked too
    if (!explicit) mode = 'verify-full';
    else if (mode !== 'verify-full')
      throw new BoosterzError(`sslmode=${mode} may not be used with sslrootcert=system (use verify-full)`, ExitCode.usage);
  }
  const order: Record<SslMode, Transport[]> = {
    disable: ['plain'],
    allow: ['plain', 'tls'],
    prefer: ['tls', 'plain'],
    require: ['tls'],
    'verify-ca': ['tls'],
    'verify-full': ['tls'],
  };
  const tlsRequired = mode === 'require' || mode === 'verify-ca' || mode === 'verify-full';
  return { mode, order: order[mode], tlsRequired, tls: mode === 'disable' ? {} : tlsOptions(mode, p, home) };
}

/** The libpq TLS parameters of a URL, and the URL without them (postgres.js would send unknown ones to the server as settings). */
export function splitSslParams(url: string): { url: string; params: SslParams } {
  const params: SslParams = {};
  for (const name of PARAM_NAMES) {
    const v = new URL(splitHosts(url).single).searchParams.get(name);
    if (v !== null) params[name] = v;
  }
  const q = url.indexOf('?');
  if (q < 0) return { url, params };
  // the other parameters are kept byte for byte (re-encoding could change them)
  const [query, hash] = url.slice(q + 1).split('#', 2) as [string, string | undefined];
  const kept = query
    .split('&')
    .filter((pair) => pair && !(PARAM_NAMES as readonly string[]).includes(decodeURIComponent(pair.split('=')[0])));
  return { url: `${url.slice(0, q)}${kept.length ? `?${kept.join('&')}` : ''}${hash !== undefined ? `#${hash}` : ''}`, params };
}

/** The PGSSL* variables libpq reads when no URL is given. */
export function sslParamsFromEnv(sslmode: string | undefined, env: NodeJS.ProcessEnv = process.env): SslParams {
  return { sslmode, sslrootcert: env.PGSSLROOTCERT || undefined, sslcert: env.PGSSLCERT || undefined, sslkey: env.PGSSLKEY || undefined };
}

/** What postgres.js gets: no TLS at all for `disable`, else our own socket factory (postgres.js's ssl stays off). */
export function sslClientOptions(p: SslParams): { ssl: false; socket?: (o: ParsedOptions) => Promise<Socket> } {
  const plan = sslPlan(p);
  if (plan.mode === 'disable') return { ssl: false };
  return { ssl: false, socket: socketFactory(plan) };
}

// ---- the socket factory -------------------------------------------------------------

/** The parts of postgres.js's parsed options a socket factory gets. */
export interface ParsedOptions {
  host: string[];
  port: number[];
  path?: string | false;
  user: string;
  database: string;
  connect_timeout?: number;
  sslnegotiation?: string | null;
}

interface Endpoint {
  host: string;
  port: number;
  path?: string;
  /** Sockets opened for this connection attempt, destroyed when its deadline passes. */
  opened: Socket[];
}

/** Which transport a target accepted, per mode, target, user and database: probed once per process. */
const decided = new Map<string, Promise<Transport>>();

/** For tests: forget what was probed. */
export function forgetSslDecisions(): void {
  decided.clear();
}

function socketFactory(plan: SslPlan): (o: ParsedOptions) => Promise<Socket> {
  let next = 0;
  return (o) => {
    const i = next++ % Math.max(1, o.host.length);
    const ep: Endpoint = o.path
      ? { host: o.host[0], port: o.port[0], path: o.path, opened: [] }
      : { host: o.host[i], port: o.port[i] ?? o.port[0], opened: [] };
    return withTimeout(openFor(plan, ep, o), o.connect_timeout, ep).catch(failedSocket);
  };
}

/**
 * A socket that fails at once with err. postgres.js expects a failed connection to error and close
 * like a socket does: a rejected factory would leave the queries queued behind it waiting forever.
 */
function failedSocket(err: unknown): Socket {
  const s = new Duplex({ read: () => undefined, write: (_c, _e, cb) => cb() });
  setImmediate(() => {
    s.emit('error', err);
    s.emit('close', true);
  });
  return s as unknown as Socket;
}

async function openFor(plan: SslPlan, ep: Endpoint, o: ParsedOptions): Promise<Socket> {
  // libpq never uses TLS on a Unix-domain socket
  if (ep.path) return plainSocket(ep);
  const direct = o.sslnegotiation === 'direct';
  if (plan.order.length === 1) return openTransport(plan, plan.order[0], ep, direct);
  const key = `${plan.mode}|${ep.host}:${ep.port}|${o.user}|${o.database}`;
  let choice = decided.get(key);
  if (!choice) {
    choice = decide(plan, ep, o, direct);
    decided.set(key, choice);
    choice.catch(() => decided.delete(key));
  }
  return openTransport(plan, await choice, ep, direct);
}

/** allow / prefer: the first transport unless the server refuses it (SQLSTATE 28000, a pg_hba.conf verdict); then the second. */
async function decide(plan: SslPlan, ep: Endpoint, o: ParsedOptions, direct: boolean): Promise<Transport> {
  const [first, second] = plan.order as [Transport, Transport];
  const probe = await openTransport(plan, first, ep, direct);
  // a server without TLS answered a `prefer` probe in plain text: nothing else to try
  const used: Transport = probe instanceof TLSSocket ? first : 'plain';
  try {
    return (await refusedAtStartup(probe, o)) ? second : used;
  } finally {
    probe.destroy();
  }
}

function plainSocket(ep: Endpoint): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = ep.path ? netConnect({ path: ep.path }) : netConnect({ host: ep.host, port: ep.port });
    ep.opened.push(s);
    s.once('error', reject);
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
  });
}

/** A connected socket of the transport; TLS not offered by the server is plain for allow/prefer and an error otherwise. */
async function openTransport(plan: SslPlan, t: Transport, ep: Endpoint, direct: boolean): Promise<Socket> {
  const s = await plainSocket(ep);
  if (t === 'plain') return s;
  if (direct) return handshake(s, plan, ep, true);
  const offered = await sslRequest(s).catch((err) => {
    s.destroy();
    throw err;
  });
  if (offered) return handshake(s, plan, ep, false);
  if (!plan.tlsRequired) return s;
  s.destroy();
  const msg = `cannot connect to ${ep.host}:${ep.port}: the server does not support SSL, but sslmode=${plan.mode} requires it`;
  throw new BoosterzError(msg, ExitCode.connection, ['enable ssl on the server, or choose sslmode=prefer / allow / disable']);
}

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Sends SSLRequest; true when the server answers 'S'. Anything after the one-byte answer is refused (CVE-2021-23222). */
function sslRequest(s: Socket): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    s.once('error', onError);
    s.once('data', (b: Buffer) => {
      s.removeListener('error', onError);
      if (b.length !== 1 || (b[0] !== 0x53 && b[0] !== 0x4e)) reject(new Error('unexpected answer from the server to the SSL request'));
      else resolve(b[0] === 0x53);
    });
    s.write(SSL_REQUEST);
  });
}

function handshake(s: Socket, plan: SslPlan, ep: Endpoint, direct: boolean): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    // host is what the certificate is checked against (with only a socket, Node would check "localhost"); SNI takes names, not IPs
    const servername = isIP(ep.host) ? undefined : ep.host;
    const t = tlsConnect({ ...plan.tls, socket: s, host: ep.host, servername, ...(direct ? { ALPNProtocols: ['postgresql'] } : {}) });
    ep.opened.push(t);
    t.once('error', (err) => {
      t.destroy();
      const msg = `cannot connect to ${ep.host}:${ep.port}: TLS with sslmode=${plan.mode} failed: ${err.message}`;
      reject(new BoosterzError(msg, ExitCode.connection, tlsHints(plan), {}, { cause: err }));
    });
    t.once('secureConnect', () => {
      t.removeAllListeners('error');
      resolve(t);
    });
  });
}

function tlsHints(plan: SslPlan): string[] {
  if (plan.tls.rejectUnauthorized) return ['give the CA that signed the server certificate with sslrootcert=FILE (URL) or PGSSLROOTCERT'];
  return [];
}

/** Sends a StartupMessage on a probe and reads the first answer: a 28000 ErrorResponse is a refusal. */
function refusedAtStartup(s: Socket, o: ParsedOptions): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length < 5) return;
      if (got[0] !== 0x45) return finish(false); // not an ErrorResponse: the server accepted this transport
      const len = got.readUInt32BE(1);
      if (got.length >= len + 1) finish(errorCode(got.subarray(5, len + 1)) === '28000');
    };
    const onEnd = () => finish(false);
    const finish = (refused: boolean) => {
      s.removeListener('data', onData);
      s.removeListener('error', reject);
      s.removeListener('end', onEnd);
      resolve(refused);
    };
    s.on('data', onData);
    s.once('error', reject);
    s.once('end', onEnd);
    s.resume();
    s.write(startupMessage(o.user, o.database));
  });
}

function startupMessage(user: string, database: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`, 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.writeUInt32BE(196608, 4); // protocol 3.0
  return Buffer.concat([head, body]);
}

/** The SQLSTATE ('C' field) of an ErrorResponse body. */
export function errorCode(body: Buffer): string | undefined {
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const field = body[i];
    const end = body.indexOf(0, i + 1);
    if (end < 0) return undefined;
    if (field === 0x43) return body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return undefined;
}

function withTimeout(p: Promise<Socket>, seconds: number | undefined, ep: Endpoint): Promise<Socket> {
  if (!seconds) return p;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(Object.assign(new Error(`write CONNECT_TIMEOUT ${ep.host}:${ep.port}`), { code: 'CONNECT_TIMEOUT' }));
      for (const s of ep.opened) s.destroy();
    }, seconds * 1000);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: Error) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
