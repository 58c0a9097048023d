/** PostgreSQL identifier quoting, for names read from the catalog or a parse tree. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
