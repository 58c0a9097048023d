// The statement splitter (split.ts) and classifier (classify.ts), under the name the runner still imports.
// Import from split.ts / classify.ts; this file goes once runner.ts does.
export { leadingComment, loadParser, splitIndexStatement, splitSql, stripLeadingComments } from './split.js';
export { classify, isConcurrentBuild, isConcurrently, isVacuumFull, needsLockTimeoutOutsideTransaction } from './classify.js';
