// One PostgreSQL server per test run: BOOSTERZ_TEST_DATABASE_URL if given (a server you
// run), else a container or an embedded server started here and stopped in teardown.
// Each test file then gets its own fresh database (see db.ts). Uses the built dist/
// (npm test builds first): jest does not map module paths for global setup files.
import { provideThrowaway } from '../../dist/db/provider.js';

export default async function globalSetup() {
  const srv = await provideThrowaway({
    url: process.env.BOOSTERZ_TEST_DATABASE_URL,
    resolveFrom: process.env.BOOSTERZ_PG_RESOLVE_FROM ?? process.cwd(),
    packageName: process.env.BOOSTERZ_PG_PACKAGE,
  });
  process.env.BOOSTERZ_TEST_SERVER_URL = srv.url;
  globalThis.__boosterzServer = srv;
}
