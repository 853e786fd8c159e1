// A drawer's record from coach's API: read each time its id changes (null: the drawer is closed).
import { useOpened } from '../../detail.js'
import { session } from './session.js'

export function useDetail(id, path) {
  const { data, loading, error } = useOpened(id, async (wanted) => (await session.request('GET', path(wanted))).data)
  return { item: data, loading, error }
}
