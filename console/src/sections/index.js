// Every section the console has; the navigation shows those whose app the server serves.
import fitness from './fitness/index.js'
import shop from './shop/index.js'

export const SECTIONS = [fitness, shop]
