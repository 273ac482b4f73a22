import { http } from '@shared/index'
import type { Schemas } from '@shared/api/schemas'

import type { ItemDetail, ProgressInput, Todos } from '@shared/supervision/types'

export type * from '@shared/supervision/types'

export const getTodos = (done = false) => http.get<Todos>('/supervision/todos', { done })
export const getItem = (id: string) => http.get<ItemDetail>(`/supervision/items/${id}`)
export const reportProgress = (id: string, body: ProgressInput) =>
  http.post<Schemas['ProgressRead']>(`/supervision/items/${id}/progress`, body)
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
