// The app's LiveStore schema: one table of todos, four synced events, their materializers.
import { Events, Schema, State, makeSchema, queryDb } from '@livestore/livestore'

export const tables = {
  todos: State.SQLite.table({
    name: 'todos',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      text: State.SQLite.text({ default: '' }),
      completed: State.SQLite.boolean({ default: false }),
      // ms since the epoch, from the event: the list order is the same on every device
      createdAt: State.SQLite.integer({ default: 0 }),
      deletedAt: State.SQLite.integer({ nullable: true }),
    },
  }),
}

export const events = {
  todoCreated: Events.synced({
    name: 'v1.TodoCreated',
    schema: Schema.Struct({ id: Schema.String, text: Schema.String, createdAt: Schema.Number }),
  }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: Schema.Struct({ id: Schema.String }) }),
  todoUncompleted: Events.synced({ name: 'v1.TodoUncompleted', schema: Schema.Struct({ id: Schema.String }) }),
  todoDeleted: Events.synced({
    name: 'v1.TodoDeleted',
    schema: Schema.Struct({ id: Schema.String, deletedAt: Schema.Number }),
  }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text, createdAt }) => tables.todos.insert({ id, text, createdAt }),
  'v1.TodoCompleted': ({ id }) => tables.todos.update({ completed: true }).where({ id }),
  'v1.TodoUncompleted': ({ id }) => tables.todos.update({ completed: false }).where({ id }),
  'v1.TodoDeleted': ({ id, deletedAt }) => tables.todos.update({ deletedAt }).where({ id }),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })

/** What the Worker reads (README "Authentication"): the token travels in the sync payload. */
export const SyncPayload = Schema.Struct({ authToken: Schema.String })

/** Visible todos, oldest first (ties broken by id, so every device shows the same order). */
export const visibleTodos$ = queryDb(
  tables.todos.where({ deletedAt: null }).orderBy([
    { col: 'createdAt', direction: 'asc' },
    { col: 'id', direction: 'asc' },
  ]),
  { label: 'visibleTodos' },
)
