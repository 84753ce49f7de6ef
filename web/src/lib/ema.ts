// Exponential moving average for chart smoothing (the debiased form W&B and TensorBoard use).

/**
 * Smooth `values` with a debiased exponential moving average of weight `weight` (0..1; 0 leaves
 * the values as they are). The first points are not pulled towards zero: each output is the
 * running average divided by the total weight seen so far. Non-finite values are passed through
 * unchanged and do not take part in the average. Writes into `out` when it is given (it may be
 * `values` itself) and returns it.
 */
export function ema(values: Float64Array, weight: number, out?: Float64Array): Float64Array {
  const n = values.length;
  const res = out ?? new Float64Array(n);
  const w = Number.isFinite(weight) ? Math.min(Math.max(weight, 0), 0.999999) : 0;
  if (w === 0) {
    if (res !== values) res.set(values.subarray(0, n));
    return res;
  }
  let acc = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      acc = acc * w + (1 - w) * v;
      norm = norm * w + (1 - w);
      res[i] = acc / norm;
    } else {
      res[i] = v;
    }
  }
  return res;
}
