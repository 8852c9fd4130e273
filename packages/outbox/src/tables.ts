import {
  IdentifierNode,
  type KyselyPlugin,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type TableNode,
  type UnknownRow,
} from 'kysely'

/** The prefix of the outbox's tables unless told otherwise: `mail_outbox`, `mail_body`, … */
export const DEFAULT_TABLE_PREFIX = 'mail_'

/** The outbox's tables without their prefix. */
export const TABLES = ['outbox', 'body', 'suppression', 'failures', 'feedback', 'audit', 'flow_buckets', 'flow_slots', 'migration'] as const

/**
 * A table prefix: lower-case letters, digits and underscores, starting with a letter or
 * underscore and ending with an underscore, so that every name it makes is a plain identifier
 * (PostgreSQL folds unquoted names, LISTEN's channel among them, to lower case).
 */
export function checkTablePrefix(prefix: string): string {
  if (!/^[a-z_][a-z0-9_]{0,30}_$/.test(prefix) && prefix !== '') {
    throw new Error(`tablePrefix must be lower-case letters, digits and underscores ending with "_", such as "mail_" (got "${prefix}")`)
  }
  return prefix
}

class RenameTables extends OperationNodeTransformer {
  readonly #names: ReadonlyMap<string, string>
  constructor(prefix: string) {
    super()
    this.#names = new Map(TABLES.map((table) => [DEFAULT_TABLE_PREFIX + table, prefix + table]))
  }
  protected override transformTable(node: TableNode): TableNode {
    const renamed = this.#names.get(node.table.identifier.name)
    if (renamed === undefined) return super.transformTable(node)
    return { ...node, table: { ...node.table, identifier: IdentifierNode.create(renamed) } }
  }
}

/**
 * The outbox's queries name its tables with the default prefix; under another prefix this plugin
 * renames them in every query it builds (raw SQL fragments name them through `sql.ref`/`sql.table`).
 */
export class TablePrefixPlugin implements KyselyPlugin {
  readonly #transformer: RenameTables
  constructor(prefix: string) {
    this.#transformer = new RenameTables(prefix)
  }
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node)
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result
  }
}

/**
 * The PostgreSQL channel that committed mail is announced on (NOTIFY, sent by the enqueueing
 * transaction) and that workers LISTEN to: the outbox table's own name.
 */
export function notifyChannel(tablePrefix: string = DEFAULT_TABLE_PREFIX): string {
  return `${checkTablePrefix(tablePrefix)}outbox`
}
