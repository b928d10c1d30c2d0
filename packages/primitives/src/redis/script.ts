import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { assertInteger, assertNonEmptyString, InvalidArgumentError } from '../errors/index.js';
import type { RedisClient } from './client.js';

/** A value a Lua script receives in `ARGV`. */
export type ScriptArg = string | number | Buffer;

/**
 * A named Lua script, loaded once per server: calls go out as `EVALSHA` and fall back to `EVAL`
 * (which also caches the script) when the server answers `NOSCRIPT` — after a restart, a
 * `SCRIPT FLUSH` or on a new cluster node.
 */
export interface RedisScript<R = unknown> {
  readonly name: string;
  readonly numberOfKeys: number;
  /** The Lua source. */
  readonly lua: string;
  /** SHA1 of the source, as `SCRIPT LOAD` returns it. */
  readonly sha: string;
  /** Runs the script; `keys.length` must equal `numberOfKeys`. */
  run(client: RedisClient, keys: readonly string[], args?: readonly ScriptArg[]): Promise<R>;
  /**
   * Sends `EVALSHA` only, with no `NOSCRIPT` fallback: for hot paths that handle
   * {@link isNoScriptError} in a rejection handler they already have (then retry with
   * {@link RedisScript.run}), saving `run`'s extra promise per call. Keys are not checked.
   */
  evalsha(client: RedisClient, keys: readonly string[], args?: readonly ScriptArg[]): Promise<R>;
}

/** True for the error Redis answers when it does not have a script cached (`NOSCRIPT`). */
export function isNoScriptError(error: unknown): boolean {
  return String((error as Error | undefined)?.message).startsWith('NOSCRIPT');
}

type EvalClient = {
  evalsha(sha: string, numKeys: number, ...args: ScriptArg[]): Promise<unknown>;
  eval(lua: string, numKeys: number, ...args: ScriptArg[]): Promise<unknown>;
};

class Script<R> implements RedisScript<R> {
  private source: string | undefined;
  private digest: string | undefined;

  constructor(
    readonly name: string,
    readonly numberOfKeys: number,
    private readonly load: () => string,
  ) {}

  get lua(): string {
    this.source ??= this.load();
    return this.source;
  }

  get sha(): string {
    this.digest ??= createHash('sha1').update(this.lua).digest('hex');
    return this.digest;
  }

  async run(client: RedisClient, keys: readonly string[], args: readonly ScriptArg[] = []): Promise<R> {
    if (keys.length !== this.numberOfKeys) {
      throw new InvalidArgumentError(`keys (script ${this.name})`, `exactly ${this.numberOfKeys} key(s)`, keys);
    }
    const c = client as unknown as EvalClient;
    try {
      return (await c.evalsha(this.sha, this.numberOfKeys, ...keys, ...args)) as R;
    } catch (e) {
      if (!isNoScriptError(e)) throw e;
      return (await c.eval(this.lua, this.numberOfKeys, ...keys, ...args)) as R;
    }
  }

  evalsha(client: RedisClient, keys: readonly string[], args: readonly ScriptArg[] = []): Promise<R> {
    return (client as unknown as EvalClient).evalsha(this.sha, this.numberOfKeys, ...keys, ...args) as Promise<R>;
  }
}

/** Defines a script from its Lua source. */
export function defineScript<R = unknown>(name: string, lua: string, numberOfKeys: number): RedisScript<R> {
  assertNonEmptyString('name', name);
  assertNonEmptyString('lua', lua);
  assertInteger('numberOfKeys', numberOfKeys, 0);
  return new Script<R>(name, numberOfKeys, () => lua);
}

/**
 * Defines a script kept in a `.lua` file beside the code that uses it
 * (`loadScript(new URL('./deduct.lua', import.meta.url), 1)`). The file is read on first use;
 * the build copies `.lua` files into `dist/` next to the compiled module.
 */
export function loadScript<R = unknown>(file: URL, numberOfKeys: number, name?: string): RedisScript<R> {
  assertInteger('numberOfKeys', numberOfKeys, 0);
  const scriptName =
    name ??
    file.pathname
      .split('/')
      .pop()
      ?.replace(/\.lua$/, '') ??
    'script';
  return new Script<R>(scriptName, numberOfKeys, () => readFileSync(file, 'utf8'));
}
