/**
 * Every event in zabkv is plain data with a string discriminant. Handlers are chosen by
 * `kind`, so a port's event set is a discriminated union and `switch (event.kind)` is
 * exhaustive-checked by the compiler.
 */
export interface KEvent {
  readonly kind: string;
}

/** Compile-time exhaustiveness check for `switch (event.kind)`; throws if reached at runtime. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
