// Replaying a cached generation to a streaming listener: one token event per token with the text
// delta a live run would have sent (UTF-8 safe; never past the final text, which a stop string
// may have cut), then the finish event with the rest.
import type { GenerationListener, SequenceResult } from "../engine/sequence";
import { IncrementalDecoder } from "../tokenizer/index";

export function replay(sequences: readonly SequenceResult[], listener: GenerationListener): void {
  sequences.forEach((sequence, index) => {
    const decoder = new IncrementalDecoder();
    let decoded = "";
    let emitted = 0;
    for (const tokenId of sequence.tokenIds) {
      decoded += decoder.push(tokenId);
      const upTo = Math.min(decoded.length, sequence.text.length);
      listener.token(index, tokenId, sequence.text.slice(emitted, Math.max(emitted, upTo)));
      emitted = Math.max(emitted, upTo);
    }
    listener.finish(index, sequence.finishReason, sequence.text.slice(emitted));
  });
}
