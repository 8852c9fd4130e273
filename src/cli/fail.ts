/** Ends the process with a message for a person, not a stack trace. */
export function fail(message: string, code = 1): never {
  process.stderr.write(`ragtime: ${message}\n`)
  process.exit(code)
}
