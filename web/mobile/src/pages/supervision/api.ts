import { http } from '@shared/index'

export interface Owner {
  id: string
  kind: 'unit' | 'user'
  role: 'lead' | 'co'
  name: string
  status: 'assigned' | 'in_progress' | 'submitted' | 'returned' | 'accepted' | 'cancelled'
  status_label: string
  percent: number
  stage: string
  returned_reason: string | null
  overdue: boolean
  missed: boolean
  mine: boolean
}

export interface Item {
  id: string
  title: string
  priority: 'normal' | 'urgent' | 'critical'
  deadline: string | null
  status: string
  progress: number
  unit_name: string
  creator_name: string
  template_id: string | null
  overdue: boolean
  owners: Owner[]
  my_owner?: Owner
}

export interface HistoryEntry {
  id: string
  kind: string
  owner_id: string | null
  actor_name: string
  text: string
  percent: number | null
  created_at: string
  attachments: { id: string; name: string }[]
}

export interface ItemDetail extends Item {
  content: string
  source_ref: string
  history: HistoryEntry[]
  requires_review: boolean
}

export interface Todos {
  items: Item[]
  copied: { id: string; title: string; deadline: string | null; progress: number }[]
  open_count: number
}

export const getTodos = (done = false) => http.get<Todos>('/supervision/todos', { done })
export const getItem = (id: string) => http.get<ItemDetail>(`/supervision/items/${id}`)
export const reportProgress = (id: string, body: { owner_id: string; text: string; percent?: number; stage?: string; final: boolean; attachment_ids: string[] }) =>
  http.post<{ status: string; progress: number }>(`/supervision/items/${id}/progress`, body)
export function uploadFile(file: File) {
  const form = new FormData()
  form.append('file', file)
  return http.upload<{ id: string; name: string }>('/files', form)
}

export const PRIORITY: Record<string, { label: string; type: 'default' | 'warning' | 'danger' }> = {
  normal: { label: '一般', type: 'default' },
  urgent: { label: '紧急', type: 'warning' },
  critical: { label: '特急', type: 'danger' },
}
export const HISTORY: Record<string, string> = {
  assigned: '交办', progress: '进展报送', completion: '办结报告', accepted: '审核通过', returned: '退回',
  urged: '催办', reminded: '到期提醒', overdue: '逾期', split: '分解交办', deadline: '时限调整', cancelled: '撤销',
}
