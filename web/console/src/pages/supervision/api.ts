import { http } from '@shared/index'
import type { Schemas } from '@shared/api/schemas'
import type {
  Attachment,
  Board,
  ItemDetail,
  ItemInput,
  Leader,
  Owner,
  ProgressInput,
  Stats,
  Todos,
} from '@shared/supervision/types'

export type * from '@shared/supervision/types'

/** an owner row of an item that splits part of its work further down */
export interface SplitTarget {
  itemId: string
  ownerId: string
  ownerName: string
  title: string
  deadline: string | null
}

export const getBoard = (query: Record<string, string | number | boolean | undefined>) =>
  http.get<Board>('/supervision/items', query)
export const getItem = (id: string) => http.get<ItemDetail>(`/supervision/items/${id}`)
export const createItem = (body: ItemInput) => http.post<ItemDetail>('/supervision/items', body)
export const reviewReport = (id: string, ownerId: string, decision: 'accept' | 'return', reason = '') =>
  http.post<Schemas['ReviewRead']>(`/supervision/items/${id}/review`, { owner_id: ownerId, decision, reason })
export const urgeItem = (id: string, message = '') =>
  http.post<Schemas['UrgeRead']>(`/supervision/items/${id}/urge`, { message })
export const getTodos = (done = false) => http.get<Todos>('/supervision/todos', { done })
export const reportProgress = (id: string, body: ProgressInput) =>
  http.post<Schemas['ProgressRead']>(`/supervision/items/${id}/progress`, body)
export const splitItem = (id: string, body: Schemas['SplitCreate']) =>
  http.post<ItemDetail>(`/supervision/items/${id}/split`, body)
export const changeDeadline = (id: string, deadline: string, reason = '') =>
  http.post<Schemas['DeadlineRead']>(`/supervision/items/${id}/deadline`, { deadline, reason })
export const cancelItem = (id: string, reason: string) =>
  http.post<Schemas['CancelRead']>(`/supervision/items/${id}/cancel`, { reason })
export const getLeaders = (unitId: string) => http.get<Leader[]>('/supervision/leaders', { unit_id: unitId })
export const addLeader = (unitId: string, userId: string) =>
  http.post<Leader[]>('/supervision/leaders', { unit_id: unitId, user_id: userId })
export const removeLeader = (unitId: string, userId: string) =>
  http.delete<Leader[]>(`/supervision/leaders/${unitId}/${userId}`)
export const stopRecurring = (id: string) => http.post<Schemas['StopRead']>(`/supervision/items/${id}/stop`)
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
