/**
 * Splits a history into parts that share no key, as Porcupine and Knossos do for
 * independent keys: operations are linked through the keys they touch (union-find over the
 * keys of each operation), and each connected component is checked on its own. A history
 * is linearizable exactly when each part is, since no operation of one part can observe or
 * change a key of another.
 */
export function componentsByKey<Op>(ops: readonly Op[], keysOf: (op: Op) => string[]): Op[][] {
  const parent = new Map<string, string>();
  const root = (key: string): string => {
    let top = key;
    for (let up = parent.get(top); up !== undefined && up !== top; up = parent.get(top)) top = up;
    // Path compression: every key on the way now points at the root.
    for (let at = key; at !== top;) {
      const up = parent.get(at)!;
      parent.set(at, top);
      at = up;
    }
    return top;
  };
  const opKeys = ops.map((op) => {
    const keys = keysOf(op);
    for (const key of keys) if (!parent.has(key)) parent.set(key, key);
    for (const key of keys.slice(1)) {
      const [a, b] = [root(keys[0]!), root(key)];
      if (a !== b) parent.set(b, a);
    }
    return keys;
  });
  const parts = new Map<string, Op[]>();
  ops.forEach((op, i) => {
    const keys = opKeys[i]!;
    // An operation on no key constrains nothing: it has no part to join.
    if (keys.length === 0) return;
    const top = root(keys[0]!);
    const part = parts.get(top) ?? [];
    part.push(op);
    parts.set(top, part);
  });
  return [...parts.values()];
}
