// Bench-only Worker entry (never deployed) for `npm run bench:lm-head`: the int8 kernel, loaded as
// the Worker loads it (a CompiledWasm module), against onnxruntime-web created as the Worker
// creates its session, inside workerd. POST /measure {origin, shape, rows, reps}: the model and
// the int8 table come over HTTP from the bench process (tools/bench/lm-head.ts).
import { TiedEmbedding } from "../../src/engine/lm-head/index";
import { lmHeadModule } from "../../src/engine/lm-head/module";
import { createSession, ort } from "../../src/engine/ort";
import { measureShape, type MatmulShape } from "./lm-head-measure";

interface MeasureRequest {
  origin: string;
  shape: MatmulShape;
  rows: number[];
  reps: number;
}

export default {
  async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname !== "/measure") return new Response("not found", { status: 404 });
    const { origin, shape, rows, reps } = (await request.json()) as MeasureRequest;
    const download = async (file: string) => {
      const response = await fetch(`${origin}/${encodeURIComponent(shape.name)}/${file}`);
      if (!response.ok) throw new Error(`${file}: HTTP ${response.status}`);
      return response.arrayBuffer();
    };
    const session = await createSession(new Uint8Array(await download("model.onnx")), []);
    const kernel = await TiedEmbedding.create(lmHeadModule, { vocab: shape.N, hidden: shape.K });
    kernel.table.set(new Int8Array(await download("table.bin")));
    kernel.scales.set(new Float32Array(await download("scales.bin")));
    try {
      return Response.json(await measureShape(ort, session, kernel, shape, rows, reps));
    } finally {
      await session.release();
    }
  },
};
