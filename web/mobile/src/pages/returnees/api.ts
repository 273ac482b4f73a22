import type { ReturneeStatus } from '@shared/returnees/api'
export * from '@shared/returnees/api'

export const STATUS_TAG: Record<ReturneeStatus, 'primary' | 'success' | 'warning' | 'danger' | 'default'> = {
  routing: 'default',
  dispatched: 'danger',
  acknowledged: 'warning',
  monitoring: 'primary',
  released: 'success',
}
