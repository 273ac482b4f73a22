/** A person or unit picked as a DING recipient. */
export interface Picked {
  id: string
  name: string
}
