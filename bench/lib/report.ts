// The summary every run ends with: a Markdown table (readable in a terminal, pasted as is into
// the README) and the machine, date and command it came from.
import type { ReportRow } from '../scenarios/scenario.ts'
import type { Machine } from './machine.ts'

const COLUMNS = ['scenario', 'result', 'baseline', 'ratio', 'target'] as const

export function markdownTable(rows: readonly ReportRow[]): string {
  const escape = (cell: string) => cell.replaceAll('|', '\\|')
  return [
    `| ${COLUMNS.join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${COLUMNS.map((column) => escape(row[column])).join(' | ')} |`),
  ].join('\n')
}

export function machineLine(machine: Machine, date: Date, command: string): string {
  return (
    `${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GiB, Node ${machine.node}, ${machine.platform}, ` +
    `load average ${machine.loadAverage} at the start; ` +
    `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC; \`${command}\``
  )
}
