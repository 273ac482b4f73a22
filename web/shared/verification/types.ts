/** Verification types and labels shared by the console and the mobile app. */

export type TaskStatus = 'pending' | 'dispatched' | 'in_progress' | 'replied' | 'closed'

export const STATUS_LABELS: Record<TaskStatus, string> = {
  pending: '待派发',
  dispatched: '已派发',
  in_progress: '核查中',
  replied: '已回单',
  closed: '已办结',
}
export const STATUS_ORDER: TaskStatus[] = ['pending', 'dispatched', 'in_progress', 'replied', 'closed']

export const EVENT_LABELS: Record<string, string> = {
  created: '导入创建',
  routed: '按线索自动派发',
  dispatched: '派发',
  assigned: '指派网格员',
  transfer_requested: '申请转办',
  transfer_accepted: '转办已接收',
  transfer_rejected: '转办被拒收',
  replied: '提交回单',
  reply_accepted: '回单审核通过',
  reply_returned: '回单被退回',
  closed: '办结',
  nat_result: '核酸结果',
  overdue: '逾期',
}

export const TRANSFER_STATUS: Record<string, string> = { pending: '待接收', accepted: '已接收', rejected: '已拒收' }

export interface Batch {
  id: string
  name: string
  filename: string
  deadline: string | null
  total: number
  accepted: number
  rejected: number
  routed: number
  unknown_columns: string[]
  created_at: string
}

export interface ImportResult {
  batch_id: string
  accepted: number
  rejected: number
  routed: number
  unrouted: number
  errors: { row?: number; field?: string; reason: string }[]
  unknown_columns: string[]
}

export interface Task {
  id: string
  batch_id: string
  row_number: number
  name_masked: string
  id_number_masked: string
  phone_masked: string | null
  clue: string
  source: string
  status: TaskStatus
  owner_unit_id: string
  owner_unit_name: string | null
  assignee_id: string | null
  assignee_name: string | null
  clue_unit_id: string | null
  clue_unit_name: string | null
  review_unit_id: string | null
  review_unit_name: string | null
  transferring: boolean
  deadline: string | null
  overdue: boolean
  nat_result: string | null
  nat_sampled_at: string | null
  created_at: string
  replied_at: string | null
  closed_at: string | null
}

export interface HistoryEntry {
  seq: number
  at: string
  kind: string
  actor_name: string | null
  from_unit_name: string | null
  to_unit_name: string | null
  to_user_name: string | null
  reason: string | null
  detail: Record<string, unknown> | null
}

export interface Reply {
  id: string
  replier_name: string
  found: boolean
  location: string | null
  contact_masked: string | null
  health_status: string
  measure: string
  note: string
  photo_ids: string[]
  status: 'pending' | 'accepted' | 'returned'
  return_reason: string | null
  created_at: string
}

export interface TaskTransferBrief {
  id: string
  from_unit_name: string | null
  to_unit_name: string | null
  reason: string
  status: string
  reject_reason: string | null
  created_at: string
}

export interface TaskDetail extends Task {
  note: string
  chain: { id: string; name: string | null }[]
  history: HistoryEntry[]
  replies: Reply[]
  transfers: TaskTransferBrief[]
  open: boolean
  can_reply: boolean
  pending_transfer_id: string | null
}

export interface Transfer {
  id: string
  task_id: string
  from_unit_id: string
  from_unit_name: string | null
  to_unit_id: string
  to_unit_name: string | null
  reason: string
  status: 'pending' | 'accepted' | 'rejected'
  reject_reason: string | null
  created_at: string
  decided_at: string | null
}
