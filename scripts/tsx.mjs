#!/usr/bin/env node
// Runs a TypeScript entry point with tsx, resolving workspace packages to their sources
// (the "@gopherkit/source" export condition) so demos need no build step. Benches do not use
// it: they measure the built packages, which is what users run (tsx's transform adds a
// `__name()` call to every closure it creates, a cost no user pays).
// Child processes started by demos use the same flags via process.execArgv.
import { spawn } from 'node:child_process';

const args = ['--conditions=@gopherkit/source', '--import', 'tsx', ...process.argv.slice(2)];
const child = spawn(process.execPath, args, { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
