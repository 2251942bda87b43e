/** BroadcastChannel on which the leader worker reports every close of its sync WebSocket. */
export const SOCKET_CLOSE_CHANNEL = 'livestore-example:sync-socket-close'

/** 1006 = closed without a close frame: a refused upgrade or an unreachable server, not a server's word. */
export type SocketClose = { storeId: string; code: number; reason: string }
