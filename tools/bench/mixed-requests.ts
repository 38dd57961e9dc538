// Bench Worker side (no Node imports): the fixed mix of whole requests (mixed-bodies.ts) through the
// Worker's HTTP routes in-process, for the "after N mixed requests" isolate-memory figure.
import app from "../../src/index";
import { mixedBodies, sendMixed } from "./mixed-bodies";

/** Sends `count` mixed requests, `concurrency` at a time; statuses tallied for the report. */
export async function mixedRequests(env: Record<string, unknown>, count: number, concurrency: number): Promise<{ statuses: Record<number, number> }> {
  // The response cache at its deployed default (the speed runs turn it off).
  const served = { ...env };
  delete served.RESPONSE_CACHE_BYTES;
  const statuses = await sendMixed(mixedBodies(count), concurrency, async (body) => {
    const response = await app.request("/v1/generate", { method: "POST", headers: { "content-type": "application/json" }, body }, served);
    await response.arrayBuffer(); // read streams to the end
    return response.status;
  });
  return { statuses };
}
