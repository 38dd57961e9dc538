// Bench-only Worker: the tokenizer measurement of tokenizer-measure.ts inside workerd.
// POST {"runs": n} → TokenizerResult[]. Started by tokenizer.ts; never deployed.
import { measureTokenizer } from "./tokenizer-measure.js";

export default {
  async fetch(request: Request): Promise<Response> {
    const { runs } = (await request.json()) as { runs: number };
    return Response.json(measureTokenizer(runs));
  },
};
