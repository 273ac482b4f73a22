/** Supervision's answers, for the console and the mobile app (generated: see shared/api/schemas.ts). */
import type { Schemas } from '../api/schemas'

export type Owner = Schemas['OwnerRead']
export type OwnerStatus = Owner['status']
export type Item = Schemas['ItemListItem']
export type ItemDetail = Schemas['ItemRead']
export type HistoryEntry = Schemas['HistoryRead']
export type Attachment = Schemas['AttachmentRead']
export type TodoItem = Schemas['TodoListItem']
export type Todos = Schemas['TodosRead']
export type Board = Schemas['BoardRead']
export type Stat = Schemas['StatRead']
export type Stats = Schemas['StatsRead']
export type Leader = Schemas['LeaderRead']
export type ItemInput = Schemas['ItemCreate']
export type OwnerInput = Schemas['OwnerIn']
export type ProgressInput = Schemas['ProgressCreate']
