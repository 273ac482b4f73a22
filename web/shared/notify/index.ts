export * from './api'
export { installNotify, notifyStore, notifyState, badgeText } from './store'
export type { DingPrompt } from './store'
export { useDingDetail } from './useDingDetail'
