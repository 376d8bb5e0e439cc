//! The OpenAPI of the regions guide, channels and trust lists, merged into
//! the main document (`api::ApiDoc`) by a modifier.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::guide::regions_api,
        crate::channels::whoami,
        crate::channels::channel_otp,
        crate::channels::channel_verify,
        crate::channels::channel_apply,
        crate::channels::channel_code,
        crate::channels::admin_list,
        crate::channels::admin_add,
        crate::channels::admin_disable,
        crate::federation::trust_lists,
        crate::federation::admin_import
    ),
    components(schemas(
        crate::guide::RegionsView,
        crate::guide::RegionView,
        crate::guide::CityView,
        crate::guide::NoteView,
        crate::guide::SupportView,
        crate::guide::DeploymentView,
        crate::guide::CapabilityView,
        crate::channels::ChannelView,
        crate::channels::NewChannel,
        crate::channels::NewChannelView,
        crate::federation::TrustListsView,
        crate::federation::TrustListView,
        crate::federation::ImportedView,
        crate::federation::KeyView,
        crate::federation::ImportRequest,
        crate::federation::ImportOutcome
    ))
)]
struct Doc;

/// Adds the paths above and the channels' HTTP Basic security scheme.
pub struct RegionsDoc;

impl Modify for RegionsDoc {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.merge(Doc::openapi());
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "channel",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
            );
        }
    }
}
