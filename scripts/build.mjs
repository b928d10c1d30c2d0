// Builds the published packages in dependency order (patterns compiles against primitives' .d.ts).
import { execFileSync } from 'node:child_process';

for (const pkg of ['primitives', 'patterns']) {
  execFileSync('npm', ['run', 'build', '--silent', '-w', `@gopherkit/${pkg}`], { stdio: 'inherit' });
}
