import { beforeAll, describe, expect, it } from 'vitest';
import { useRedis } from '../test-redis.js';
import { sessionIds } from './test-ids.js';
import { HLL_REGISTERS, HLL_STANDARD_ERROR, HyperLogLog, fromRedisDense, toRedisDense } from './hll.js';

describe('HyperLogLog', () => {
  it.each([1_000, 10_000, 100_000])('estimates %i distinct sessions within 3 standard errors', (exact) => {
    const sketch = new HyperLogLog();
    const ids = sessionIds(exact, exact);
    for (const id of ids) sketch.addText(id);
    for (const id of ids.slice(0, exact / 2)) sketch.addText(id); // seen again: not counted twice
    const estimate = sketch.count();
    expect(Math.abs(estimate - exact) / exact).toBeLessThan(3 * HLL_STANDARD_ERROR);
  });

  it('states a standard error of 1.04/√16384', () => {
    expect(HLL_STANDARD_ERROR).toBeCloseTo(0.008125, 6);
  });

  it('counts nothing as zero and small sets exactly enough', () => {
    expect(new HyperLogLog().count()).toBe(0);
    const sketch = new HyperLogLog();
    for (const id of sessionIds(10)) sketch.addText(id);
    expect(sketch.count()).toBe(10);
  });

  it('stays sparse and small for a few sessions, and turns dense at 16 KiB', () => {
    const sketch = new HyperLogLog();
    for (const id of sessionIds(20)) sketch.addText(id);
    expect(sketch.bytes).toBeLessThanOrEqual(256);
    for (const id of sessionIds(5_000, 7)) sketch.addText(id);
    expect(sketch.bytes).toBe(HLL_REGISTERS);
  });

  it('keeps the same registers whether sparse or dense', () => {
    const ids = sessionIds(3_000, 3);
    const small = new HyperLogLog();
    const registersAt: Uint8Array[] = [];
    for (const [i, id] of ids.entries()) {
      small.addText(id);
      if (i === 999) registersAt.push(small.registers());
    }
    const reference = new HyperLogLog();
    for (const id of ids.slice(0, 1000)) reference.addText(id);
    expect(registersAt[0]).toEqual(reference.registers());
  });

  it('round-trips registers through the Redis dense encoding', () => {
    const registers = new Uint8Array(HLL_REGISTERS);
    for (let i = 0; i < HLL_REGISTERS; i++) registers[i] = (i * 7) % 52;
    expect(fromRedisDense(toRedisDense(registers))).toEqual(registers);
  });
});

describe('HyperLogLog against a real Redis', () => {
  const db = useRedis();
  beforeAll(async () => {
    // Dense from the first PFADD, so GET shows every register.
    await db.client.config('SET', 'hll-sparse-max-bytes', '0');
  });

  it('hashes exactly as PFADD does: the same registers for the same sessions', async () => {
    const ids = [...sessionIds(5_000, 11), 'é-unicode-ünïcode', 'a', '12345678', '123456789'];
    await db.client.pfadd('same', ...ids);
    const theirs = fromRedisDense((await db.client.getBuffer('same')) as Buffer);
    const ours = new HyperLogLog();
    for (const id of ids) ours.addText(id);
    expect(theirs).toBeDefined();
    expect(ours.registers()).toEqual(theirs);
    expect(ours.count()).toBe(await db.client.pfcount('same'));
  });

  it('writes a sketch Redis accepts for PFMERGE and PFCOUNT', async () => {
    const ours = new HyperLogLog();
    const ids = sessionIds(20_000, 5);
    for (const id of ids.slice(0, 12_000)) ours.addText(id);
    await db.client.set('ours', ours.toRedis());
    await db.client.pfadd('theirs', ...ids.slice(8_000));
    await db.client.pfmerge('union', 'ours', 'theirs');
    const union = await db.client.pfcount('union');
    expect(Math.abs(union - 20_000) / 20_000).toBeLessThan(3 * HLL_STANDARD_ERROR);
    expect(await db.client.pfcount('ours')).toBe(ours.count());
  });
});
