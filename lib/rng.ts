// rng.ts — seeded pseudo-random numbers (sfc32 seeded through splitmix32). Same seed, same
// stream, on every platform: initialisation, shuffling and data generation all draw from here.

export class Rng {
  // sfc32's state as int32 (| 0): every value a small integer, which V8 stores without allocating
  // a heap number (uint32 values past 2^31 would be one per store: a shuffle of 1024 allocated
  // ~50 KB). The same bits as uint32 arithmetic.
  private a: number; private b: number; private c: number; private d: number;

  constructor(seed: number) {
    let s = (Math.trunc(seed) >>> 0) ^ 0x9e3779b9;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) | 0;
    };
    this.a = next(); this.b = next(); this.c = next(); this.d = next();
    for (let q = 0; q < 12; q++) this.step();
  }

  /** One step of sfc32: its output's 32 bits as an int32. */
  private step(): number {
    const t = (this.a + this.b + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t;
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number { return this.step() >>> 0; }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return ((this.step() >>> 0) * 2 ** 21 + (this.step() >>> 11)) / 2 ** 53;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number { return lo + (hi - lo) * this.uniform(); }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** Uniform integer in [0, n). */
  int(n: number): number { return Math.floor(this.uniform() * n); }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let q = a.length - 1; q > 0; q--) {
      const r = this.int(q + 1);
      const t = a[q]; a[q] = a[r]; a[r] = t;
    }
    return a;
  }
}
