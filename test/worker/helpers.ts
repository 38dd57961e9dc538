// Shared by the tests that run inside workerd: call the Worker with a chosen test model, and read
// the reference fixtures that global-setup copied next to the converted models.
import { env } from "cloudflare:workers";
import { openModel, type Engine, type OpenedModel } from "../../src/engine/engine";
import type { GenerationJob } from "../../src/engine/scheduler";
import { deploymentFor } from "../../src/http/deployment";
import app from "../../src/index";
import { modelFiles } from "../../src/model/source";

const envs = new Map<string, Env>();

/** The Worker's env, serving a model converted by test/support/global-setup.ts. */
export function envFor(model: string, vars: Partial<Record<keyof Env, string>> = {}): Env {
  const key = `${model}|${JSON.stringify(vars)}`;
  let value = envs.get(key);
  if (!value) envs.set(key, (value = { ...env, ...vars, MODEL: model.includes(":") ? model : `fetcher:TEST_MODELS/${model}` } as Env));
  return value;
}

/** The engine the Worker serves `model` with (the isolate's one model: loading it releases another). */
export function engineFor(model: string): Promise<Engine> {
  return deploymentFor(envFor(model)).model.engine();
}

/** Every job's sequences' token ids, the jobs submitted to `model`'s engine at once (batched). */
export async function engineTokenIds(model: string, jobs: GenerationJob[]): Promise<number[][][]> {
  const engine = await engineFor(model);
  const results = await Promise.all(jobs.map((job) => engine.submit(job)));
  return results.map((r) => r.sequences.map((s) => s.tokenIds));
}

/** Index of the first element whose bits differ, -1 when none (NaN-safe, unlike ===). */
export function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.findIndex((bits, i) => bits !== y[i]);
}

const opened = new Map<string, Promise<OpenedModel>>();

/** A test model's session, outside the Worker's registry, for driving forward steps directly. */
export function openTestModel(model: string): Promise<OpenedModel> {
  let value = opened.get(model);
  if (!value) opened.set(model, (value = openModel(modelFiles(envFor(model).MODEL, (name) => Reflect.get(env, name)))));
  return value;
}

export async function postJson(path: string, body: unknown, model: string, vars: Partial<Record<keyof Env, string>> = {}, workerEnv?: Env): Promise<Response> {
  return app.request(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }, workerEnv ?? envFor(model, vars));
}

export async function generateJson(body: unknown, model: string): Promise<GenerateResponse> {
  const response = await postJson("/v1/generate", body, model);
  const json = (await response.json()) as GenerateResponse;
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

export interface GenerateResponse {
  model: string;
  generations: { index: number; text: string; token_ids: number[]; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number; cached_tokens?: number };
  seed?: number;
  timings: Record<string, number | null>;
  error?: { type: string; message: string; param: string | null };
}

export async function testFile(name: string): Promise<Response> {
  const response = await env.TEST_MODELS.fetch(`https://test-models/${name}`);
  if (!response.ok) throw new Error(`test file ${name}: HTTP ${response.status}`);
  return response;
}

export async function referenceAvailable(): Promise<string[]> {
  return ((await (await testFile("available.json")).json()) as { reference: string[] }).reference;
}

export interface Fixtures {
  prompts: {
    prompt: string;
    prompt_ids: number[];
    last_logits_top5: [number, number][];
    logits_sum: number;
    greedy_max_new_tokens_20: number[];
    seed_call_max_length_50_no_repeat_ngram_2: number[];
    repetition_penalty_1_3_max_new_tokens_20: number[];
    no_repeat_3_rep_1_2_min_new_10_max_new_24: number[];
    greedy_text: string;
  }[];
  batched_left_padded_greedy_max_new_16: { input_ids: number[][]; attention_mask: number[][]; output_ids: number[][] };
}
