import { describe, expect, it } from 'vitest';
import { createThrottle, newClientId } from './throttle';

describe('createThrottle', () => {
  it('lets one call through per interval', () => {
    let t = 0;
    const th = createThrottle(2000, () => t);
    expect(th.take()).toBe(true);
    t = 500;
    expect(th.take()).toBe(false);
    t = 1999;
    expect(th.take()).toBe(false);
    t = 2000;
    expect(th.take()).toBe(true);
    t = 2100;
    expect(th.take()).toBe(false);
    th.reset();
    expect(th.take()).toBe(true);
  });
});

describe('newClientId', () => {
  it('makes distinct UUIDs that fit the 64-character bound', () => {
    const a = newClientId();
    const b = newClientId();
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.length).toBeLessThanOrEqual(64);
  });
});
