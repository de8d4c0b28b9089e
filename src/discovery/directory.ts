import type { FastifyInstance } from 'fastify'
import { Problem } from '../errors/problem.js'
import type { MechaRecord } from '../model.js'
import { isMechaId } from '../crypto/id-formats.js'
import { keyStatus } from '../control-plane/key-view.js'
import type { ControlStore } from '../stores/types.js'

export interface DirectoryCard {
  id: string
  name: string | null
  description: string | null
  accepts: string[]
  public_keys: string[]
}

const PAGE = 100

/**
 * Public cards of the mechas an operator marked `listed`. An unlisted or deactivated mecha answers
 * exactly like an absent one, so the directory reveals nothing about mechas that are not published.
 * Cards carry the Ed25519 public keys of the mecha's active keys: peers can verify its signatures end
 * to end. Descriptive only: a card grants nothing.
 */
export async function directoryRoutes(app: FastifyInstance, { store }: { store: ControlStore }): Promise<void> {
  const card = async (mecha: MechaRecord): Promise<DirectoryCard> => {
    const now = Date.now()
    const keys = (await store.listKeys(mecha.id)).filter((k) => keyStatus(k, mecha, now) === 'active')
    return {
      id: mecha.id,
      name: mecha.name,
      description: mecha.description,
      accepts: mecha.accepts,
      public_keys: [...new Set(keys.flatMap((k) => k.public_keys))],
    }
  }
  const published = (m: MechaRecord | undefined): m is MechaRecord => m !== undefined && m.listed && m.status === 'active'

  app.get<{ Querystring: { after?: string } }>('/v1/directory/mechas', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { after: { type: 'string', maxLength: 64 } } } },
  }, async (request) => {
    // The store pages over all mechas; keep reading until a page of listed ones is full.
    const cards: DirectoryCard[] = []
    let after = request.query.after
    for (;;) {
      const page = await store.listMechas({ limit: PAGE, after })
      for (const mecha of page.filter(published)) {
        cards.push(await card(mecha))
        if (cards.length === PAGE) return { mechas: cards, next: mecha.id }
      }
      if (page.length < PAGE) return { mechas: cards, next: null }
      after = page.at(-1)?.id
    }
  })

  app.get<{ Params: { id: string } }>('/v1/directory/mechas/:id', async (request) => {
    const { id } = request.params
    const mecha = isMechaId(id) ? await store.getMecha(id) : undefined
    if (!published(mecha)) throw new Problem('mecha_not_found', 'no listed mecha with this id')
    return card(mecha)
  })
}
