/**
 * The one rule for missing services: in CI (`CI=true`) a test that needs Redis or MySQL fails
 * loudly; elsewhere it is skipped with a one-line reason that says how to provide the service.
 */
export const inCI = (): boolean => /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** Thrown when a required service is missing in CI. */
export class ServiceUnavailableError extends Error {
  constructor(service: string, reason: string) {
    super(`${service} is required when CI=true, but ${reason}`);
    this.name = 'ServiceUnavailableError';
  }
}

const announced = new Set<string>();

/** In CI: throws. Elsewhere: prints the reason once per process and returns `null` (skip). */
export function serviceMissing(service: string, reason: string, { required = inCI() } = {}): null {
  if (required) throw new ServiceUnavailableError(service, reason);
  const line = `[testkit] skipping ${service} tests: ${reason}`;
  if (!announced.has(line)) {
    announced.add(line);
    console.warn(line);
  }
  return null;
}
