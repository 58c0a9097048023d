export default async function globalTeardown() {
  await globalThis.__boosterzServer?.stop();
}
