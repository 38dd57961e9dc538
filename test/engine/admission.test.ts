import { describe, expect, it } from "vitest";
import { stepsUntilStart, StepTimer } from "../../src/engine/admission";

describe("stepsUntilStart", () => {
  it("starts at once when slots are free", () => {
    expect(stepsUntilStart([10, 20], [], 4, 2)).toBe(0);
  });

  it("waits for enough running rows to leave", () => {
    expect(stepsUntilStart([10, 20, 30, 40], [], 4, 1)).toBe(10);
    expect(stepsUntilStart([10, 20, 30, 40], [], 4, 3)).toBe(30);
  });

  it("queued jobs ahead start first and hold their slots for their steps", () => {
    // 2 slots: A runs 10 more steps; B (queued, 1 row × 50 steps) takes the free slot now;
    // our job waits for A's slot at step 10.
    expect(stepsUntilStart([10], [{ rows: 1, steps: 50 }], 2, 1)).toBe(10);
    // Then C (2 rows × 5 steps) is queued too: it needs both slots, free once B ends at 50.
    expect(stepsUntilStart([10], [{ rows: 1, steps: 50 }, { rows: 2, steps: 5 }], 2, 1)).toBe(55);
  });

  it("first come, first served: a small job never starts before a big one queued ahead", () => {
    expect(stepsUntilStart([5, 100], [{ rows: 2, steps: 10 }], 2, 1)).toBe(110);
  });
});

describe("StepTimer", () => {
  it("averages step times, weighting recent ones", () => {
    const timer = new StepTimer(0.5);
    expect(timer.msPerStep).toBeNull();
    timer.record(10);
    timer.record(20);
    expect(timer.msPerStep).toBe(15);
  });
});
