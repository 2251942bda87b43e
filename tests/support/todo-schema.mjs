// The LiveStore schema the end-to-end tests' stores share (tests/e2e/12 and 24; e2e 15 and the
// packed-package test through refused-store.mjs; the DO-RPC client harness
// tests/do-rpc/client-worker/worker.ts, which imports it): one event, v1.TodoCreated, and a todos
// table it fills. Stores of different clients of one storeId must agree on it.
import { Events, Schema, State, makeSchema, queryDb } from '@livestore/livestore'

export const todos = State.SQLite.table({
  name: 'todos',
  columns: {
    id: State.SQLite.text({ primaryKey: true }),
    text: State.SQLite.text({ default: '' }),
    author: State.SQLite.text({ default: '' }),
  },
})

export const events = {
  todoCreated: Events.synced({
    name: 'v1.TodoCreated',
    schema: Schema.Struct({ id: Schema.String, text: Schema.String, author: Schema.String }),
  }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text, author }) => todos.insert({ id, text, author }),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { todos }, materializers }) })

/** Every todo in rowid order = the order in which the store materialized the events (after rebases: the global order). */
export const allTodos = queryDb({
  query: 'SELECT id, text, author FROM todos ORDER BY rowid',
  schema: Schema.Array(Schema.Struct({ id: Schema.String, text: Schema.String, author: Schema.String })),
})
