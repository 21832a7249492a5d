import { InvalidArgumentError } from 'commander';

// The value parsers of the benchmarks' commander options (cli/flags.ts has the CLI's own,
// in a layer the benchmarks cannot import).

export function positive(value: string): number {
  const x = Number(value);
  if (!(x > 0)) throw new InvalidArgumentError('must be a positive number');
  return x;
}

export function positiveInteger(value: string): number {
  const x = Number(value);
  if (!(Number.isInteger(x) && x > 0)) throw new InvalidArgumentError('must be a positive integer');
  return x;
}

export function nonNegativeInteger(value: string): number {
  const x = Number(value);
  if (!(Number.isInteger(x) && x >= 0)) {
    throw new InvalidArgumentError('must be a whole number, 0 or more');
  }
  return x;
}

/** A comma-separated list of positive integers (key counts, client counts). */
export function positiveIntegers(value: string): number[] {
  return value.split(',').map((part) => {
    const x = Number(part.trim());
    if (!(Number.isInteger(x) && x > 0))
      throw new InvalidArgumentError(`"${part}" is not a positive integer`);
    return x;
  });
}

/** A fraction in [0, 1]. */
export function fraction(value: string): number {
  const x = Number(value);
  if (!(x >= 0 && x <= 1)) throw new InvalidArgumentError('must be between 0 and 1');
  return x;
}
