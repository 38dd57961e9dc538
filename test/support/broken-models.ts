// Model folders broken the ways deployments break: a missing file, a truncated or corrupt weights
// file, a manifest that is not JSON, a graph from another model (wrong shape for its manifest),
// a manifest whose heads or context window disagree with the graph.
// Each is a copy of a good folder with one thing wrong, so the Worker's reason can be checked.
import { cp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

export async function writeBrokenModels(goodDir: string, cacheDir: string): Promise<void> {
  const copy = async (name: string) => {
    const dir = path.join(cacheDir, name);
    await rm(dir, { recursive: true, force: true });
    await cp(goodDir, dir, { recursive: true });
    return dir;
  };
  // The first weights file the good model lists (model.onnx.data, or layer-00.onnx.data when its
  // MLPs run in the kernel).
  const listed = JSON.parse(await readFile(path.join(goodDir, "manifest.json"), "utf8")) as { files: { path: string; role: string }[] };
  const data = listed.files.find((f) => f.role === "weights")!.path;

  await rm(path.join(await copy("broken-missing"), data));

  const truncated = await copy("broken-truncated");
  const bytes = await readFile(path.join(truncated, data));
  await writeFile(path.join(truncated, data), bytes.subarray(0, bytes.length >> 1));

  const corrupt = await copy("broken-corrupt");
  const flipped = Buffer.from(await readFile(path.join(corrupt, data)));
  flipped[flipped.length >> 1] ^= 0xff;
  await writeFile(path.join(corrupt, data), flipped);

  await writeFile(path.join(await copy("broken-manifest"), "manifest.json"), "{ not json");

  // A manifest that promises more layers than its graph has (hashes still match the files).
  const shape = await copy("broken-shape");
  const manifest = JSON.parse(await readFile(path.join(shape, "manifest.json"), "utf8"));
  manifest.architecture.n_layer += 1;
  manifest.io.inputs.push(`past_key_values.${manifest.architecture.n_layer - 1}.key`);
  await writeFile(path.join(shape, "manifest.json"), JSON.stringify(manifest));

  // Self-consistent manifests that disagree with the graph: other heads, a longer context window.
  await editManifest(await copy("broken-heads"), (m) => (m.architecture.n_head *= 2));
  await editManifest(await copy("broken-window"), (m) => (m.architecture.n_positions = 100_000));
}

async function editManifest(dir: string, edit: (manifest: { architecture: { n_head: number; n_positions: number } }) => void): Promise<void> {
  const file = path.join(dir, "manifest.json");
  const manifest = JSON.parse(await readFile(file, "utf8"));
  edit(manifest);
  await writeFile(file, JSON.stringify(manifest));
}
