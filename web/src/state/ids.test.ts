import { describe, expect, it } from 'vitest';
import { compareIds, timeOf } from './ids';

describe('compareIds', () => {
  it('compares decimal ids as numbers', () => {
    expect(compareIds('9', '10')).toBeLessThan(0);
    expect(compareIds('100', '99')).toBeGreaterThan(0);
    expect(compareIds('007', '7')).toBe(0);
    expect(compareIds('12345678901234567890', '12345678901234567891')).toBeLessThan(0);
  });
  it('compares other ids as strings', () => {
    expect(compareIds('a', 'b')).toBeLessThan(0);
    expect(compareIds('0190-b', '0190-a')).toBeGreaterThan(0);
  });
  it('sorts numbers before other strings', () => {
    expect(compareIds('5', 'abc')).toBeLessThan(0);
    expect(compareIds('abc', '5')).toBeGreaterThan(0);
  });
  it('is usable as a sort comparator', () => {
    expect(['10', '2', '1', '33'].sort(compareIds)).toEqual(['1', '2', '10', '33']);
  });
});

describe('timeOf', () => {
  it('parses ISO dates and tolerates junk', () => {
    expect(timeOf('2026-01-01T00:00:01Z')).toBe(Date.UTC(2026, 0, 1, 0, 0, 1));
    expect(timeOf('nope')).toBe(0);
    expect(timeOf(null)).toBe(0);
  });
});
