// What every scenario is and returns. A scenario measures Ragtime against a baseline taken in
// the same run and never fails on a number: the numbers are the product.

export interface BenchOptions {
  /** `--quick`: fewer messages and runs, a first look in under a minute. */
  readonly quick: boolean
}

/** One line of the summary table (and of the README's). */
export interface ReportRow {
  readonly scenario: string
  readonly result: string
  readonly baseline: string
  /** The ratio to the baseline, or the count that matters (e.g. emails lost). */
  readonly ratio: string
  readonly target: string
}

export interface ScenarioReport {
  readonly rows: readonly ReportRow[]
  /** Everything measured, for bench/results/latest.json. */
  readonly details: Record<string, unknown>
  /** Where the setup differs from what users get, said plainly (e.g. a shorter lease). */
  readonly notes: readonly string[]
}

export interface Scenario {
  /** For `--only`. */
  readonly id: string
  readonly title: string
  run(options: BenchOptions): Promise<ScenarioReport>
}
