/** Order statistics for benchmark samples. */

const sorted = (xs: ReadonlyArray<number>): Array<number> => [...xs].sort((a, b) => a - b)

/** The q-quantile (0..1) by nearest rank; NaN for no samples. */
export const quantile = (xs: ReadonlyArray<number>, q: number): number => {
  if (xs.length === 0) return Number.NaN
  const s = sorted(xs)
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))
  return s[rank] as number
}

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const s = sorted(xs)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: ReadonlyArray<number>
}

export const summarize = (runs: ReadonlyArray<number>): Summary => ({
  median: median(runs),
  min: runs.length === 0 ? Number.NaN : Math.min(...runs),
  max: runs.length === 0 ? Number.NaN : Math.max(...runs),
  runs,
})
