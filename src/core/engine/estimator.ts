import type { ReservedSql, Sql } from '../../db/connection.js';
import {
  besideFactor,
  besideSlowdown,
  estimate,
  median,
  pickRate,
  type Estimate,
  type Previous,
  type Rate,
  type Sample,
  type Shape,
} from './estimates.js';
import { splitIndexStatement, statementChecksum } from './statements.js';
import type { Script, Statement } from './types.js';
import { toolTable } from '../../db/sql.js';

type Db = Sql | ReservedSql;

interface TableFacts {
  pages: number;
  tuples: number;
  widths: Record<string, number>;
}

/** Every RangeVar (table or view named) and ColumnRef (column named) in a parse tree. */
function walk(node: unknown, found: { tables: Set<string>; columns: string[] }): void {
  if (Array.isArray(node)) for (const x of node) walk(x, found);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'RangeVar' && v && typeof v === 'object') {
        const rv = v as { schemaname?: string; relname?: string };
        if (rv.relname) found.tables.add(rv.schemaname ? `${rv.schemaname}.${rv.relname}` : rv.relname);
      }
      if (k === 'ColumnRef') {
        const fields = (v as { fields?: { String?: { sval?: string } }[] }).fields ?? [];
        const last = fields[fields.length - 1]?.String?.sval;
        if (last) found.columns.push(last);
      }
      walk(v, found);
    }
  }
}

/** The WHERE clause of a CREATE INDEX (outside parentheses and quotes), or undefined. */
export function indexPredicate(rest: string): string | undefined {
  let depth = 0;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (c === "'" || c === '"') {
      const end = rest.indexOf(c, i + 1);
      if (end < 0) return undefined;
      i = end;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && /^where\b/i.test(rest.slice(i, i + 6)) && /\s/.test(rest[i - 1] ?? ' ')) return rest.slice(i + 5).trim();
  }
  return undefined;
}

const validates = (st: Statement) =>
  st.node === 'AlterTableStmt' &&
  (st.ast.cmds ?? []).some(
    (c: any) =>
      c.AlterTableCmd?.subtype === 'AT_ValidateConstraint' ||
      (c.AlterTableCmd?.subtype === 'AT_AddConstraint' &&
        c.AlterTableCmd?.def?.Constraint?.contype === 'CONSTR_FOREIGN' &&
        !c.AlterTableCmd.def.Constraint.skip_validation),
  );

/**
 * Estimates for the statements of a run: table sizes read once from the catalog, the rate
 * calibrated on the builds completed in this run, else on this database's history
 * (boosterz_db.statement_stats), else a conservative default.
 */
export class Estimator {
  private readonly run: Sample[] = [];
  /** Share of the rows in each partial index (by statement checksum), from the planner. */
  private readonly selectivity = new Map<string, number>();
  /** Durations of the catalog-only statements of this run. */
  private readonly small: number[] = [];
  /** pickRate of the run's samples so far and the history: fitted once per completed statement, not per estimate. */
  private rate?: { samples: number; rate: Rate };

  private constructor(
    private readonly tables: Map<string, TableFacts>,
    private readonly history: Sample[],
    /** What each statement took last time on this database (catalog-only ones and scans), by checksum. */
    private readonly last: Map<string, Previous>,
    /** boosterz_db.statement_stats exists: durations are kept for later runs. */
    readonly keepsHistory: boolean,
    /**
     * How many times longer a build takes beside other builds than alone on this database
     * (estimates.ts besideSlowdown over the history); undefined until measured. The estimates
     * are of a build alone; the schedule applies this to builds side by side.
     */
    readonly slowdown?: number,
    /** The server's cores when known: k builds side by side share them (coreSharing). */
    readonly cores?: number,
  ) {}

  static async load(db: Db, scripts: Script[], cores?: number): Promise<Estimator> {
    const tables = new Map<string, TableFacts>();
    const [{ ok }] = await db<{ ok: boolean }[]>`select to_regclass(${toolTable('statement_stats')}) is not null as ok`;
    const history: Sample[] = [];
    const last = new Map<string, Previous>();
    if (ok) {
      const rows = await db<(Shape & { ms: number; checksum: string; sideBySide: number | null })[]>`
        select shape as kind, table_pages::float8 as pages, table_tuples::float8 as tuples, key_width as "keyWidth",
               expression, partial, selectivity, duration_ms::float8 as ms, statement_checksum as checksum,
               side_by_side as "sideBySide"
          from ${db(toolTable('statement_stats'))} order by recorded_at desc limit 1000`;
      for (const r of rows) {
        if (r.kind !== 'build' && !last.has(r.checksum)) last.set(r.checksum, { ms: r.ms, pages: r.pages });
        if (r.kind !== 'small')
          history.push({
            shape: { ...r, keyWidth: r.keyWidth ?? 0, selectivity: r.selectivity ?? undefined },
            ms: r.ms,
            sideBySide: r.sideBySide ?? 1,
          });
      }
    }
    const slowdown = besideSlowdown(history, cores);
    // the history as if every build had run alone
    const alone = history.map((x) => ({ ...x, ms: x.ms / besideFactor(x.sideBySide ?? 1, slowdown, cores) }));
    const e = new Estimator(tables, alone, last, ok, slowdown, cores);
    await e.readSizes(db, scripts);
    return e;
  }

  /** Reads the size of the tables the scripts touch (again before each migration: earlier ones may have created or filled them). */
  async readSizes(db: Db, scripts: Script[]): Promise<void> {
    const names = new Set<string>();
    for (const st of scripts.flatMap((s) => s.statements)) {
      if (st.table) names.add(st.table);
      if (st.node === 'CreateTableAsStmt' || st.node === 'ViewStmt') walk(st.ast.query, { tables: names, columns: [] });
    }
    for (const t of names) {
      const [r] = await db<{ pages: number; tuples: number; widths: Record<string, number> }[]>`
        select pg_relation_size(c.oid)::float8 / 8192 as pages,
               case when c.reltuples >= 0 then c.reltuples::float8 else pg_relation_size(c.oid)::float8 / 8192 * 60 end as tuples,
               coalesce((select json_object_agg(a.attname, coalesce(s.avg_width, nullif(a.attlen, -1)::int, 16))
                           from pg_attribute a left join pg_stats s
                             on s.schemaname = n.nspname and s.tablename = c.relname and s.attname = a.attname
                          where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '{}'::json) as widths
          from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass(${t})`;
      if (r) this.tables.set(t, { pages: r.pages, tuples: r.tuples, widths: r.widths });
    }
    for (const st of scripts.flatMap((s) => s.statements)) {
      const facts = st.table ? this.tables.get(st.table) : undefined;
      if (st.node !== 'IndexStmt' || !st.ast.whereClause || !facts?.tuples) continue;
      const { table, rest } = splitIndexStatement(st.text);
      const where = indexPredicate(rest);
      if (!where) continue;
      try {
        // the planner's row estimate for the index's WHERE: EXPLAIN runs nothing
        const [row] = await db.unsafe<{ 'QUERY PLAN': { Plan: { 'Plan Rows': number } }[] }[]>(
          `explain (format json) select from ${table} where ${where}`,
        );
        const rows = row?.['QUERY PLAN']?.[0]?.Plan?.['Plan Rows'];
        if (typeof rows === 'number') this.selectivity.set(statementChecksum(st), Math.min(1, rows / facts.tuples));
      } catch {
        // no estimate for this predicate (a function created later in the run…): the default share
      }
    }
  }

  shape(st: Statement): Shape {
    const none: Shape = { kind: 'small', pages: 0, tuples: 0, keyWidth: 0, expression: false, partial: false };
    const t = st.table ? this.tables.get(st.table) : undefined;
    if (st.node === 'IndexStmt') {
      const elems: any[] = (st.ast.indexParams ?? []).map((p: any) => p.IndexElem ?? {});
      let keyWidth = 0;
      for (const e of elems) {
        if (e.name) keyWidth += t?.widths[e.name] ?? 8;
        else {
          const found = { tables: new Set<string>(), columns: [] as string[] };
          walk(e.expr, found);
          keyWidth += found.columns.reduce((n, c) => n + (t?.widths[c] ?? 16), 0) || 16;
        }
      }
      return {
        ...none,
        kind: 'build',
        pages: t?.pages ?? 0,
        tuples: t?.tuples ?? 0,
        keyWidth,
        expression: elems.some((e) => !e.name),
        partial: !!st.ast.whereClause,
      };
    }
    if (validates(st)) return { ...none, kind: 'scan', pages: t?.pages ?? 0, tuples: t?.tuples ?? 0 };
    if (st.node === 'CreateTableAsStmt') {
      const found = { tables: new Set<string>(), columns: [] as string[] };
      walk(st.ast.query, found);
      const read = [...found.tables].map((n) => this.tables.get(n)).filter((x): x is TableFacts => !!x);
      return { ...none, kind: 'scan', pages: read.reduce((n, x) => n + x.pages, 0), tuples: read.reduce((n, x) => n + x.tuples, 0) };
    }
    return none;
  }

  /** The estimate of a statement now (the rate moves as builds complete). */
  estimate(st: Statement): Estimate {
    const shape = this.shape(st);
    const same = shape.kind === 'build' ? undefined : this.last.get(statementChecksum(st));
    if (shape.kind === 'small' && same === undefined && this.small.length >= 3)
      return { ms: Math.round(median(this.small)!), source: 'this run' };
    if (this.rate?.samples !== this.run.length) this.rate = { samples: this.run.length, rate: pickRate(this.run, this.history) };
    return estimate(shape, this.rate.rate, same);
  }

  /**
   * A statement completed, with on average `sideBySide` builds running over its life (itself
   * included): calibrates the rate for the next estimates (of a build alone).
   */
  observe(st: Statement, ms: number, sideBySide = 1): void {
    const shape = this.shape(st);
    if (shape.kind === 'small') {
      this.last.set(statementChecksum(st), { ms, pages: 0 });
      this.small.push(ms);
    } else this.run.push({ shape, ms: ms / besideFactor(sideBySide, this.slowdown, this.cores), sideBySide });
  }

  /** The estimate of a statement that starts with `sideBySide` − 1 other builds running. */
  estimateBeside(st: Statement, sideBySide: number): Estimate {
    const e = this.estimate(st);
    return st.node === 'IndexStmt' ? { ...e, ms: Math.round(e.ms * besideFactor(sideBySide, this.slowdown, this.cores)) } : e;
  }

  /** Keeps the statement's duration and its table's size for later runs (best effort). */
  async record(db: Db, s: Script, st: Statement, ms: number, estimateMs: number, sideBySide: number): Promise<void> {
    if (!this.keepsHistory) return;
    const x = this.shape(st);
    await db`
      insert into ${db(toolTable('statement_stats'))}
        (version, statement_index, statement_checksum, kind, target, table_name, shape, table_pages, table_tuples,
         key_width, expression, partial, selectivity, side_by_side, estimate_ms, duration_ms)
      values (${s.version}, ${st.index}, ${statementChecksum(st)}, ${st.kind}, ${st.target ?? null}, ${st.table ?? null}, ${x.kind},
              ${Math.round(x.pages)}, ${x.tuples}, ${Math.round(x.keyWidth)}, ${x.expression}, ${x.partial}, ${x.selectivity ?? null}, ${sideBySide},
              ${Math.round(estimateMs)}, ${Math.round(ms)})`.catch(() => undefined);
  }
}
