import { http } from '@shared/index'

export type OwnerStatus = 'assigned' | 'in_progress' | 'submitted' | 'returned' | 'accepted' | 'cancelled'

export interface Owner {
  id: string
  kind: 'unit' | 'user'
  role: 'lead' | 'co'
  unit_id: string | null
  user_id: string | null
  name: string
  status: OwnerStatus
  status_label: string
  percent: number
  sub_percent: number | null
  stage: string
  last_report_at: string | null
  submitted_at: string | null
  returned_reason: string | null
  overdue: boolean
  missed: boolean
  urge_count: number
  mine: boolean
}

export interface Item {
  id: string
  title: string
  priority: 'normal' | 'urgent' | 'critical'
  source_kind: string
  source_ref: string
  deadline: string | null
  status: 'open' | 'closed' | 'recurring' | 'stopped' | 'cancelled'
  progress: number
  unit_name: string
  creator_name: string
  parent_id: string | null
  root_id: string
  template_id: string | null
  period_key: string | null
  recurrence: string | null
  due_time: string | null
  overdue: boolean
  owners: Owner[]
  owner_counts: Record<string, number>
  created_at: string
  closed_at: string | null
}

export interface Attachment {
  id: string
  name: string
  size: number
  content_type: string
}

export interface HistoryEntry {
  id: string
  kind: string
  owner_id: string | null
  actor_name: string
  text: string
  percent: number | null
  stage: string | null
  created_at: string
  attachments: Attachment[]
}

export interface ItemDetail extends Item {
  content: string
  copies: { id: string; name: string }[]
  history: HistoryEntry[]
  children: Item[]
  instances: Item[]
  parent: { id: string; title: string } | null
  can_review: boolean
  can_urge: boolean
  can_split: boolean
  can_change: boolean
}

export interface TodoItem extends Item {
  my_owner: Owner
}

export interface Todos {
  items: TodoItem[]
  copied: { id: string; title: string; deadline: string | null; status: string; progress: number }[]
  open_count: number
}

export interface ProgressInput {
  owner_id: string
  text: string
  percent?: number | null
  stage?: string
  attachment_ids: string[]
  final: boolean
}

/** an owner row of an item that splits part of its work further down */
export interface SplitTarget {
  itemId: string
  ownerId: string
  ownerName: string
  title: string
  deadline: string | null
}

export interface Leader {
  unit_id: string
  user_id: string
  name: string
}

export interface Board {
  items: Item[]
  total: number
  counts: { open: number; closed: number; overdue: number; review: number; recurring: number; cancelled: number }
}

export interface OwnerInput {
  unit_id?: string
  user_id?: string
  lead?: boolean
}

export interface ItemInput {
  title: string
  content: string
  source_kind: string
  source_ref: string
  priority: string
  deadline?: string | null
  owners: OwnerInput[]
  copy_user_ids: string[]
  attachment_ids: string[]
  recurrence?: string | null
  due_time?: string
  weekday?: number
  remind_before_minutes?: number[]
}

export interface Stat {
  id: string
  name: string
  due: number
  on_time: number
  late: number
  overdue: number
  on_time_rate: number | null
}

export interface Stats {
  unit: Stat
  children: Stat[]
  days: { day: string; due: number; on_time: number; late: number; overdue: number }[]
  start: string
  end: string
}

export const getBoard = (query: Record<string, string | number | boolean | undefined>) =>
  http.get<Board>('/supervision/items', query)
export const getItem = (id: string) => http.get<ItemDetail>(`/supervision/items/${id}`)
export const createItem = (body: ItemInput) => http.post<ItemDetail>('/supervision/items', body)
export const reviewReport = (id: string, ownerId: string, decision: 'accept' | 'return', reason = '') =>
  http.post(`/supervision/items/${id}/review`, { owner_id: ownerId, decision, reason })
export const urgeItem = (id: string, message = '') =>
  http.post<{ urged_owner_ids: string[]; recipients: number }>(`/supervision/items/${id}/urge`, { message })
export const getTodos = (done = false) => http.get<Todos>('/supervision/todos', { done })
export const reportProgress = (id: string, body: ProgressInput) =>
  http.post<{ status: string; progress: number; item_status: string }>(`/supervision/items/${id}/progress`, body)
export const splitItem = (id: string, body: ItemInput & { owner_id: string }) =>
  http.post<ItemDetail>(`/supervision/items/${id}/split`, body)
export const changeDeadline = (id: string, deadline: string, reason = '') =>
  http.post<{ owners: number; recipients: number }>(`/supervision/items/${id}/deadline`, { deadline, reason })
export const cancelItem = (id: string, reason: string) =>
  http.post<{ status: string }>(`/supervision/items/${id}/cancel`, { reason })
export const getLeaders = (unitId: string) => http.get<Leader[]>('/supervision/leaders', { unit_id: unitId })
export const addLeader = (unitId: string, userId: string) =>
  http.post<Leader[]>('/supervision/leaders', { unit_id: unitId, user_id: userId })
export const removeLeader = (unitId: string, userId: string) =>
  http.delete<Leader[]>(`/supervision/leaders/${unitId}/${userId}`)
export const stopRecurring = (id: string) => http.post(`/supervision/items/${id}/stop`)
export const getStats = (query: { unit_id?: string; start?: string; end?: string }) =>
  http.get<Stats>('/supervision/stats', query)
export const searchPeople = (q: string) =>
  http.get<{ people: { id: string; name: string; units: { name: string }[] }[] }>('/directory/search', { q })
export function uploadFile(file: File) {
  const form = new FormData()
  form.append('file', file)
  return http.upload<Attachment>('/files', form)
}

export const PRIORITY: Record<string, { label: string; type: 'info' | 'warning' | 'danger' }> = {
  normal: { label: '一般', type: 'info' },
  urgent: { label: '紧急', type: 'warning' },
  critical: { label: '特急', type: 'danger' },
}
export const SOURCES: Record<string, string> = {
  instruction: '领导批示',
  meeting: '会议部署',
  document: '文件',
  other: '其他',
}
export const HISTORY: Record<string, string> = {
  assigned: '交办',
  progress: '进展报送',
  completion: '办结报告',
  accepted: '审核通过',
  returned: '退回',
  urged: '催办',
  reminded: '到期提醒',
  overdue: '逾期',
  split: '分解交办',
  deadline: '时限调整',
  cancelled: '撤销',
}
export const ITEM_STATUS: Record<string, string> = {
  open: '办理中', closed: '已办结', recurring: '周期报送', stopped: '已停止', cancelled: '已撤销',
}
/** the owner's status as the mobile to-do list shows it (逾期 / 漏报 first) */
export function ownerLabel(o: Owner, recurringInstance = false): string {
  if (o.overdue) return recurringInstance ? '漏报' : '已逾期'
  return o.status_label
}
export function ownerTagType(o: Owner): 'success' | 'warning' | 'danger' | 'info' | 'primary' {
  if (o.overdue) return 'danger'
  if (o.status === 'accepted') return 'success'
  if (o.status === 'cancelled') return 'info'
  if (o.status === 'submitted') return 'warning'
  if (o.status === 'returned') return 'danger'
  return o.status === 'in_progress' ? 'primary' : 'info'
}
