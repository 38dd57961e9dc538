// A step request checked before anything changes: what the front sends is trusted to be the
// front's, but a malformed one must fail with the field named, never compute from wrong numbers.
import type { ShardStepRequest } from "../engine/shard-protocol";

export class ShardRequestError extends Error {
  override name = "ShardRequestError";
}

const isCount = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0;

export function checkStep(request: ShardStepRequest, limits: { width: number; positions: number }): void {
  const fail = (what: string) => new ShardRequestError(`ShardStepRequest.${what}`);
  const { rows, seq, hidden, positionIds, release } = request ?? ({} as ShardStepRequest);
  if (!Array.isArray(rows) || rows.length === 0) throw fail("rows must be a non-empty list");
  if (!isCount(seq) || seq === 0) throw fail(`seq must be a positive integer, got ${JSON.stringify(seq)}`);
  if (!Array.isArray(release) || !release.every((id) => typeof id === "string")) throw fail("release must be a list of row ids");
  if (typeof request.lastOnly !== "boolean") throw fail("lastOnly must be a boolean");
  const seen = new Set<string>();
  rows.forEach((row, r) => {
    if (typeof row?.id !== "string" || row.id === "") throw fail(`rows[${r}].id must be a non-empty string`);
    if (seen.has(row.id)) throw fail(`rows[${r}].id ${JSON.stringify(row.id)} appears twice`);
    seen.add(row.id);
    if (!isCount(row.past)) throw fail(`rows[${r}].past must be a non-negative integer, got ${JSON.stringify(row.past)}`);
    if (row.copyOf !== undefined && (typeof row.copyOf !== "string" || row.copyOf === row.id)) throw fail(`rows[${r}].copyOf must name another row`);
    if (row.past + seq > limits.positions) throw fail(`rows[${r}]: past ${row.past} + seq ${seq} exceeds the model's ${limits.positions} positions`);
  });
  if (!(hidden instanceof Float32Array) || hidden.length !== rows.length * seq * limits.width) {
    throw fail(`hidden must be a Float32Array of rows × seq × n_embd = ${rows.length * seq * limits.width} values, got ${hidden instanceof Float32Array ? hidden.length : typeof hidden}`);
  }
  if (!Array.isArray(positionIds) || positionIds.length !== rows.length * seq) throw fail(`positionIds must hold rows × seq = ${rows.length * seq} positions`);
  rows.forEach((row, r) => {
    for (let i = 0; i < seq; i++) {
      if (positionIds[r * seq + i] !== row.past + i) throw fail(`positionIds[${r * seq + i}] is ${positionIds[r * seq + i]}, expected rows[${r}].past + ${i} = ${row.past + i}`);
    }
  });
}
